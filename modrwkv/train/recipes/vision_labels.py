"""The label space of the real-things vision data: canonical short English names, their coarse categories, and the
English to say them with ("a dog", "two dogs", "grapes").

Every source (Tux Paint stamps, Open Clip Art, emoji) names its images through `name_in`, which finds the first
name of this vocabulary in a file name, a caption or an emoji's CLDR name; text that holds none (an author's name,
Italian, "boating_rules3") names nothing and the image is left out. One vocabulary for all sources is what makes a
name mean the same thing in each: "kitten", "housecat" and CLDR's "cat face" are all "cat".
"""
from __future__ import annotations

import re

# category -> canonical names ("," between names; a name may have spaces). Concrete things a visitor photographs
# or draws; the sources hold images of each of them.
_NAMES = {
    "person": "man, woman, boy, girl, baby, child, person, group of people, family, firefighter, police officer, "
              "doctor, nurse, astronaut, farmer, cook, scientist, teacher, student, judge, pilot, singer, artist, "
              "mechanic, detective, guard, construction worker, dancer, soldier, sailor, clown, pirate, knight, king, "
              "queen, prince, princess, bride, groom, santa claus, skier, snowboarder, surfer, swimmer, runner, "
              "cyclist, golfer, mermaid, ninja, cowboy, diver, paratrooper, scarecrow",
    "animal": "dog, cat, horse, cow, bull, pig, sheep, lamb, goat, ram, donkey, zebra, camel, llama, giraffe, "
              "elephant, rhinoceros, hippopotamus, lion, tiger, leopard, cheetah, bear, polar bear, panda, koala, "
              "kangaroo, wombat, monkey, gorilla, chimpanzee, orangutan, fox, wolf, deer, moose, reindeer, bison, "
              "buffalo, yak, antelope, gnu, boar, rabbit, mouse, rat, hamster, squirrel, chipmunk, beaver, hedgehog, "
              "bat, raccoon, skunk, badger, otter, ferret, sloth, echidna, mammoth, dinosaur, bird, chicken, rooster, "
              "chick, duck, goose, swan, turkey, owl, eagle, parrot, penguin, flamingo, peacock, pigeon, dove, crow, "
              "seagull, pelican, ostrich, heron, crane, toucan, vulture, magpie, blackbird, bluebird, sparrow, robin, "
              "fish, shark, whale, dolphin, orca, seal, sea lion, octopus, squid, crab, lobster, shrimp, jellyfish, "
              "starfish, seahorse, turtle, tortoise, frog, toad, snake, lizard, iguana, crocodile, butterfly, bee, "
              "wasp, hornet, ant, ladybug, spider, snail, slug, worm, caterpillar, grasshopper, cricket, mosquito, "
              "fly, dragonfly, beetle, cockroach, scorpion, mantis, crawfish, unicorn, dragon",
    "food": "apple, banana, orange, lemon, lime, pear, peach, apricot, plum, cherries, strawberry, raspberry, "
            "blueberries, grapes, watermelon, melon, pineapple, mango, kiwi, coconut, avocado, pomegranate, tangerine, "
            "olive, tomato, potato, carrot, onion, garlic, corn, pepper, cucumber, eggplant, broccoli, lettuce, "
            "cabbage, pumpkin, mushroom, peanuts, chestnut, walnut, almond, pecan, bread, croissant, baguette, "
            "pretzel, bagel, pancakes, waffle, cheese, egg, meat, bacon, sausage, hamburger, french fries, pizza, hot "
            "dog, sandwich, taco, burrito, salad, soup, popcorn, rice, spaghetti, lasagna, sushi, dumpling, potato "
            "chips, onion rings, cookie, cake, cupcake, pie, doughnut, muffin, ice cream, chocolate, candy, lollipop, "
            "candy cane, honey, milk, coffee, tea, juice, lemonade, beer, wine, cocktail, yam, ginger, squash, sweet "
            "potato",
    "plant": "flower, rose, tulip, sunflower, daffodil, lily, iris, daisy, lotus, hibiscus, magnolia, marigold, "
             "lavender, tree, palm tree, christmas tree, pine tree, oak, birch, cactus, bamboo, fern, leaf, clover, "
             "shamrock, herb, thyme, potted plant, seedling, acorn, pinecone, cherry blossom, toadstool",
    "vehicle": "car, taxi, police car, race car, bus, truck, fire truck, ambulance, tractor, van, jeep, motorcycle, "
               "scooter, bicycle, tricycle, train, locomotive, tram, subway, airplane, helicopter, rocket, hot air "
               "balloon, ship, boat, sailboat, canoe, submarine, tank, skateboard, sled, wheelchair, bulldozer, "
               "excavator, dump truck, cement mixer, tow truck, garbage truck, pickup truck, forklift, satellite, "
               "space shuttle",
    "clothing": "shirt, t-shirt, dress, skirt, pants, jeans, shorts, jacket, coat, sweater, scarf, gloves, glove, "
                "sock, socks, shoe, boot, sandal, high heel, hat, cap, baseball cap, top hat, fedora, sombrero, "
                "helmet, crown, tie, bow tie, bikini, swimsuit, kimono, glasses, sunglasses, handbag, backpack, purse, "
                "ring, necklace, pantyhose, belt",
    "building": "house, castle, church, tower, lighthouse, windmill, barn, school, hospital, factory, skyscraper, "
                "tent, igloo, hut, cottage, temple, pyramid, bridge, fountain, eiffel tower, statue, office building, "
                "stadium, fort, farm, mosque, synagogue, library",
    "sky": "sun, moon, star, planet, earth, cloud, rainbow, lightning, snowflake, comet, tornado",
    "object": "ball, soccer ball, basketball, baseball, football, volleyball, tennis ball, rugby ball, tennis racket, "
              "baseball bat, cricket bat, baseball glove, golf ball, bowling ball, kite, balloon, teddy bear, doll, "
              "toy, puzzle, dice, yo-yo, trophy, medal, gift, book, newspaper, pencil, pen, crayon, paintbrush, "
              "scissors, ruler, paperclip, envelope, calculator, calendar, clipboard, notebook, globe, compass, clock, "
              "watch, alarm clock, hourglass, stopwatch, key, lock, padlock, door, window, chair, table, bed, couch, "
              "sofa, lamp, light bulb, candle, lantern, flashlight, mirror, bathtub, toilet, shower, sink, broom, "
              "bucket, basket, box, bag, suitcase, umbrella, vase, bottle, cup, mug, glass, teapot, kettle, pot, pan, "
              "plate, bowl, fork, knife, spoon, chopsticks, hammer, saw, axe, wrench, screwdriver, pliers, drill, "
              "shovel, spade, rake, ladder, toolbox, magnet, nail, screw, gear, sword, shield, bow and arrow, gun, "
              "bomb, cannon, anchor, wheel, tire, telephone, mobile phone, computer, laptop, keyboard, computer mouse, "
              "television, radio, camera, video camera, microphone, headphones, speaker, battery, plug, printer, "
              "robot, guitar, violin, cello, harp, piano, drum, trumpet, saxophone, flute, trombone, french horn, "
              "accordion, banjo, xylophone, maracas, cymbal, tuba, bell, microscope, telescope, binoculars, magnifying "
              "glass, thermometer, stethoscope, syringe, pill, bandage, toothbrush, comb, razor, soap, sponge, towel, "
              "fan, refrigerator, washing machine, vacuum cleaner, microwave, iron, sewing machine, needle, button, "
              "clothespin, coin, money, credit card, wallet, ticket, mailbox, trash can, barrel, pumpkin lantern, "
              "snowman, skull, bone, tooth, eye, hand, foot, heart, brain, fire, fireworks, wreath, ornament, dreidel, "
              "menorah, candy bowl, surfboard, skis, ice skate, roller skate, dartboard, chess piece, paint roller, "
              "cement, brick, rock, shell, feather, nest, boomerang, skateboard ramp, tombstone, totem pole, traffic "
              "light, stop sign, fire hydrant, gas cylinder, compost bin, recycling box, rubber duck, nutcracker, "
              "pepper grinder, pressure cooker, tape measure, mallet, trumpet mute, jukebox, record, cd, floppy disk, "
              "cassette, film camera, projector, satellite dish, antenna, joystick, puzzle piece, rubik cube, pin, "
              "megaphone, desk lamp, picture frame, ironing board, nunchaku, lightsaber",
}

# other words and spellings -> the canonical name ("_" joins the words of a compound written as one)
SYNONYMS = {
    # people
    "men": "group of people", "women": "group of people", "people": "group of people", "crowd": "group of people",
    "team": "group of people", "couple": "group of people", "kids": "group of people",
    "children": "group of people", "lady": "woman", "mom": "woman", "mother": "woman", "grandma": "woman",
    "granny": "woman", "gramma": "woman", "wife": "woman", "ballerina": "dancer", "female": "woman",
    "businesswoman": "woman", "old woman": "woman", "older woman": "woman", "guy": "man", "gentleman": "man",
    "dad": "man", "father": "man", "grandpa": "man", "grampa": "man", "husband": "man", "male": "man",
    "businessman": "man", "old man": "man", "older man": "man", "fireman": "firefighter",
    "firemen": "firefighter", "policeman": "police officer", "police man": "police officer", "kid": "child",
    "youngster": "child", "toddler": "child", "infant": "baby", "older person": "person", "human": "person",
    "health worker": "doctor", "chemist": "scientist", "santa": "santa claus", "father christmas": "santa claus",
    "merman": "mermaid", "merperson": "mermaid", "scuba diver": "diver", "hiker": "person",
    "backpacker": "person", "blacksmith": "man", "factory worker": "person", "office worker": "person",
    "people holding hands": "group of people",
    "women holding hands": "group of people", "men holding hands": "group of people",
    "woman and man holding hands": "group of people", "couple with heart": "group of people",
    "people hugging": "group of people", "people wrestling": "group of people", "men wrestling": "group of people",
    "women wrestling": "group of people", "people with bunny ears": "group of people",
    "men with bunny ears": "group of people", "women with bunny ears": "group of people",
    # animals
    "puppy": "dog", "doggy": "dog", "poodle": "dog", "guide dog": "dog", "service dog": "dog",
    "kitten": "cat", "kitty": "cat", "housecat": "cat", "black cat": "cat", "blackcat": "cat",
    "pony": "horse", "mustang": "horse", "foal": "horse", "calf": "cow", "ox": "bull", "heifer": "cow",
    "cattle": "cow", "zebu": "cow", "water buffalo": "buffalo", "ewe": "sheep", "mountain goat": "goat",
    "mountaingoat": "goat", "ibex": "goat", "dromedary": "camel", "two-hump camel": "camel",
    "rhino": "rhinoceros", "hippo": "hippopotamus", "chimp": "chimpanzee",
    "baboon": "monkey", "tamarin": "monkey", "doe": "deer", "fawn": "deer", "stag": "deer", "caribou": "reindeer",
    "wapiti": "deer", "elk": "moose", "wildebeest": "gnu", "wild boar": "boar", "wildboar": "boar",
    "bunny": "rabbit", "hare": "rabbit", "mice": "mouse", "marmot": "squirrel", "capybara": "rat",
    "hen": "chicken", "chook": "chicken", "drake": "duck", "duckling": "duck", "gander": "goose",
    "peafowl": "peacock", "peahen": "peacock", "parakeet": "parrot", "lorikeet": "parrot", "rosella": "parrot",
    "cockatoo": "parrot", "macaw": "parrot", "gull": "seagull", "tucan": "toucan", "hatching chick": "chick",
    "baby chick": "chick", "lark": "bird", "cuckoo": "bird", "quetzal": "bird", "guineafowl": "bird",
    "guinea fowl": "bird", "rhea": "ostrich", "tropical fish": "fish", "goldfish": "fish", "clownfish": "fish",
    "butterflyfish": "fish", "lionfish": "fish", "blowfish": "fish", "trout": "fish", "wrasse": "fish",
    "groper": "fish", "stripedfish": "fish", "dolphinfish": "fish", "bluewhale": "whale", "blue whale": "whale",
    "spouting whale": "whale", "killer whale": "orca", "walrus": "seal", "tortoise": "turtle",
    "honeybee": "bee", "bumblebee": "bee", "lady beetle": "ladybug", "ladybird": "ladybug",
    "grass hopper": "grasshopper", "damselfly": "dragonfly", "hoverfly": "fly", "crayfish": "crawfish",
    "lobster": "lobster", "t-rex": "dinosaur", "sauropod": "dinosaur", "dino": "dinosaur",
    "brontosaurus": "dinosaur", "tyrannosaurus": "dinosaur", "stegosaurus": "dinosaur", "triceratops": "dinosaur",
    "woodlouse": "beetle", "bug": "beetle", "tux": "penguin",
    # food
    "red apple": "apple", "green apple": "apple", "apples": "apple", "bananas": "banana", "cherry": "cherries",
    "grape": "grapes", "blueberry": "blueberries", "berries": "blueberries", "strawberries": "strawberry",
    "mandarin": "tangerine", "mandarine": "tangerine", "kiwifruit": "kiwi", "kiwi fruit": "kiwi",
    "prune": "plum", "pasteque": "watermelon", "ear of corn": "corn", "sweetcorn": "corn",
    "hot pepper": "pepper", "bell pepper": "pepper", "chile pepper": "pepper", "chilepepper": "pepper",
    "yellowpepper": "pepper", "chili": "pepper", "aubergine": "eggplant", "potatoes": "potato",
    "tomatoes": "tomato", "carrots": "carrot", "leafy green": "lettuce", "redlettuce": "lettuce",
    "peanut": "peanuts", "baguette bread": "baguette", "loaf": "bread", "toast": "bread",
    "pancake": "pancakes", "cheese wedge": "cheese", "meat on bone": "meat", "cut of meat": "meat",
    "poultry leg": "meat", "steak": "meat", "burger": "hamburger", "cheeseburger": "hamburger",
    "fries": "french fries", "chips": "french fries", "green salad": "salad", "cooked rice": "rice",
    "pasta": "spaghetti", "donut": "doughnut", "birthday cake": "cake", "shortcake": "cake", "gateau": "cake",
    "soft ice cream": "ice cream", "gelato": "ice cream", "chocolate bar": "chocolate", "sweets": "candy",
    "hard candy": "candy", "glass of milk": "milk", "hot beverage": "coffee", "orange juice": "juice",
    "apple juice": "juice", "wine glass": "wine", "beer mug": "beer", "cocktail glass": "cocktail",
    "tropical drink": "cocktail", "eggs": "egg", "fried egg": "egg", "mince pie": "pie",
    "roast turkey": "meat", "pumpkin pie": "pie", "pepperoni": "sausage", "cone": "ice cream",
    "ice cream cone": "ice cream", "corn dog": "hot dog", "garlic toast": "bread",
    # plants
    "flowers": "flower", "blossom": "flower", "white flower": "flower", "wilted flower": "flower",
    "red flower": "flower", "tulips": "tulip", "sun flower": "sunflower", "anemone": "flower",
    "petunia": "flower", "gazania": "flower", "balsam": "flower", "anthurium": "flower", "adenium": "flower",
    "pigface": "flower", "sakura": "cherry blossom", "palmtree": "palm tree",
    "evergreen": "pine tree", "evergreen tree": "pine tree", "deciduous tree": "tree", "fir": "pine tree",
    "spruce": "pine tree", "xmas tree": "christmas tree", "holm oak": "oak", "trees": "tree",
    "four leaf clover": "clover", "maple leaf": "leaf", "fallen leaf": "leaf", "leaves": "leaf",
    "cacti": "cactus", "cacuts": "cactus",
    # vehicles
    "automobile": "car", "sedan": "car", "sportscar": "car", "sports car": "car", "sportcar": "car",
    "redcar": "car", "racing car": "race car", "racecar": "race car", "indycar": "race car", "cars": "car",
    "beetle car": "car", "sport utility vehicle": "car", "suv": "car", "hummer": "jeep", "autobus": "bus",
    "minibus": "bus", "trolleybus": "bus", "double decker bus": "bus", "coach": "bus", "lorry": "truck",
    "articulated lorry": "truck", "delivery truck": "truck", "firetruck": "fire truck",
    "fire engine": "fire truck", "fireengine": "fire truck", "garbagetruck": "garbage truck",
    "dumper": "dump truck", "tow truck": "tow truck", "towtruck": "tow truck", "cementmixer": "cement mixer",
    "motorbike": "motorcycle", "motor scooter": "scooter", "kick scooter": "scooter", "bike": "bicycle",
    "cycle": "bicycle", "railway car": "train", "high-speed train": "train", "bullet train": "train",
    "steam locomotive": "locomotive", "plane": "airplane", "aeroplane": "airplane",
    "aircraft": "airplane", "jet": "airplane", "small airplane": "airplane", "airliner": "airplane",
    "balloon360": "hot air balloon", "passenger ship": "ship", "ferry": "ship", "tugboat": "boat",
    "speedboat": "boat", "motor boat": "boat", "trawler": "boat", "rowboat": "boat", "junk": "ship",
    "sailing ship": "ship", "kayak": "canoe", "manual wheelchair": "wheelchair",
    "motorized wheelchair": "wheelchair", "sledge": "sled", "spaceship": "rocket", "toyrocket": "rocket",
    "digger": "excavator",
    # clothing
    "tshirt": "t-shirt", "t shirt": "t-shirt", "polo shirt": "shirt", "poloshirt": "shirt", "blouse": "shirt",
    "trousers": "pants", "bluejeans": "jeans", "gown": "dress", "hoodie": "sweater", "mittens": "gloves",
    "sneaker": "shoe", "running shoe": "shoe", "tennis shoe": "shoe", "tennis shoes": "shoe", "shoes": "shoe",
    "man's shoe": "shoe", "flat shoe": "shoe", "hiking boot": "boot", "hikingboot": "boot", "boots": "boot",
    "sandals": "sandal", "thong sandal": "sandal", "high-heeled shoe": "high heel", "highheel": "high heel",
    "tophat": "top hat", "billed cap": "baseball cap", "baseballcap": "baseball cap", "woman's hat": "hat",
    "graduation cap": "hat", "santahat": "hat", "party hat": "hat", "necktie": "tie", "bowtie": "bow tie",
    "one-piece swimsuit": "swimsuit", "eyeglasses": "glasses", "spectacles": "glasses",
    "handbag": "handbag", "clutch bag": "handbag", "rucksack": "backpack",
    # buildings
    "houses": "house", "home": "house", "pinkhome": "house", "swisshome": "house", "cityhouse": "house",
    "villa": "house",
    "chalet": "cottage", "cabin": "cottage", "castello": "castle", "cathedral": "church", "chapel": "church",
    "watch tower": "tower", "lighthouse": "lighthouse", "tepee": "tent", "teepee": "tent", "circus tent": "tent",
    "shrine": "temple", "hindu temple": "temple", "fortress": "castle", "stables": "barn",
    "classical building": "temple",
    # sky
    "sunshine": "sun", "full moon": "moon", "crescent moon": "moon", "ringed planet": "planet", "stars": "star",
    "glowing star": "star", "shooting star": "star", "lightning bolt": "lightning", "lightningbolt": "lightning",
    "mercury": "planet", "venus": "planet", "mars": "planet", "jupiter": "planet", "saturn": "planet",
    "uranus": "planet", "neptune": "planet", "pluto": "planet", "clouds": "cloud",
    # objects
    "football ball": "soccer ball", "soccer": "soccer ball", "american football": "football",
    "rugby football": "rugby ball", "football helmet": "helmet", "rugby": "rugby ball", "cricketball": "ball",
    "cricket ball": "ball",
    "pool 8 ball": "ball", "baloon": "balloon", "balloons": "balloon", "teddy": "teddy bear",
    "game die": "dice", "die": "dice", "wrapped gift": "gift", "present": "gift", "trophy cup": "trophy",
    "sports medal": "medal", "military medal": "medal", "books": "book", "open book": "book",
    "closed book": "book", "notebook with decorative cover": "notebook", "ballpoint pen": "pen",
    "fountain pen": "pen", "marker": "pen", "highlighter": "pen", "pencils": "pencil", "paint brush": "paintbrush",
    "straight ruler": "ruler", "triangular ruler": "ruler", "paper clip": "paperclip", "letter": "envelope",
    "mantelpiece clock": "clock", "clockface": "clock", "wristwatch": "watch", "timer clock": "clock",
    "hourglass done": "hourglass", "cronometro": "stopwatch", "old key": "key", "padlock": "padlock",
    "locked": "padlock", "armchair": "chair", "stool": "chair", "desk": "table", "couch and lamp": "couch",
    "lightbulb": "light bulb", "bulb": "light bulb", "tealight": "candle", "holiday candle": "candle",
    "red paper lantern": "lantern", "diya lamp": "lamp", "bath": "bathtub", "wastebasket": "trash can",
    "garbage can": "trash can", "garbagecan": "trash can", "trash": "trash can", "wheelie bin": "trash can",
    "dustbin": "trash can", "bin": "trash can", "luggage": "suitcase", "cardboard box": "box",
    "package": "box", "shopping bags": "bag", "paperbag": "bag", "paper bag": "bag", "teacup": "cup",
    "coffee cup": "cup", "cup with straw": "cup", "tumbler glass": "glass", "baby bottle": "bottle",
    "frying pan": "pan", "fork and knife": "fork", "kitchen knife": "knife", "carpentry saw": "saw",
    "bowsaw": "saw", "pick": "axe", "spanner": "wrench", "plyers": "pliers", "leafrake": "rake",
    "garden spade": "spade", "nut and bolt": "screw", "cog": "gear", "cogwheel": "gear", "dagger": "knife",
    "longsword": "sword", "katana": "sword", "crossed swords": "sword", "water pistol": "gun", "pistol": "gun",
    "rifle": "gun", "cellphone": "mobile phone", "cell phone": "mobile phone",
    "handphone": "mobile phone", "smartphone": "mobile phone", "phone": "telephone",
    "telephone receiver": "telephone", "desktop computer": "computer", "tv": "television",
    "camera with flash": "camera", "camcorder": "video camera", "movie camera": "video camera",
    "headphone": "headphones", "loudspeaker": "speaker", "boombox": "radio", "electric plug": "plug",
    "electric guitar": "guitar", "bass guitar": "guitar", "acoustic guitar": "guitar",
    "musical keyboard": "piano", "drumkit": "drum", "drums": "drum", "long drum": "drum", "africandrum": "drum",
    "bongo": "drum", "cymbals": "cymbal", "magnifying": "magnifying glass", "magnifier": "magnifying glass",
    "magnifying glass tilted left": "magnifying glass", "mercurythermometer": "thermometer",
    "adhesive bandage": "bandage", "pills": "pill", "fridge": "refrigerator", "washing-machine": "washing machine",
    "vacuum": "vacuum cleaner", "clothes iron": "iron", "sewing needle": "needle", "clothes pin": "clothespin",
    "coins": "coin", "banknote": "money", "dollar banknote": "money", "money bag": "money",
    "admission tickets": "ticket", "postbox": "mailbox", "post box": "mailbox", "usps mailbox": "mailbox",
    "jack-o-lantern": "pumpkin lantern", "jackolantern": "pumpkin lantern", "snowman without snow": "snowman",
    "headstone": "tombstone", "gravestone": "tombstone", "grave": "tombstone", "bones": "bone",
    "eyes": "eye", "anatomical heart": "heart", "red heart": "heart", "flame": "fire", "firecracker": "fireworks",
    "sparkler": "fireworks", "christmas wreath": "wreath", "xmaswreath": "wreath", "dreydl": "dreidel",
    "ice skates": "ice skate", "roller skates": "roller skate", "rollerskate": "roller skate",
    "chesspieces": "chess piece", "chess pawn": "chess piece", "pawn": "chess piece", "rubik": "rubik cube",
    "puzzle": "puzzle piece", "jigsaw": "puzzle piece", "rubberduck": "rubber duck", "measuring tape": "tape measure",
    "45 rpm record": "record", "vinyl": "record", "vinyl disc": "record", "compact disc": "cd",
    "optical disk": "cd", "dvd": "cd", "computer disk": "floppy disk", "floppy": "floppy disk",
    "videocassette": "cassette", "film projector": "projector", "video game": "joystick",
    "pushpin": "pin", "thumbtack": "pin", "round pushpin": "pin", "safety pin": "pin",
    "picture frame": "picture frame", "framed picture": "picture frame",
    "lightsabers": "lightsaber", "bow": "bow and arrow", "cylinder": "gas cylinder",
    "home compost bin": "compost bin", "recyclingbox": "recycling box", "recycling bin": "recycling box",
    "cannonball": "cannon", "tyre": "tire", "traffic lights": "traffic light",
    "vertical traffic light": "traffic light", "horizontal traffic light": "traffic light",
    "stoplight": "traffic light", "mp3 player": "radio", "fifties jukebox": "jukebox",
}

# names never counted ("How many grapes?" has no one answer); said without "a" unless they are one group
_GROUPS = frozenset({"group of people", "family"})
UNCOUNTED = _GROUPS | frozenset(
    "cherries, blueberries, grapes, peanuts, french fries, popcorn, rice, spaghetti, lasagna, sushi, bread, "
    "cheese, meat, bacon, salad, soup, candy, chocolate, honey, milk, coffee, tea, juice, lemonade, beer, "
    "wine, pants, jeans, shorts, gloves, socks, glasses, sunglasses, pantyhose, scissors, pliers, "
    "binoculars, headphones, maracas, money, fireworks, fire, lettuce, corn, thyme, lavender, bamboo, "
    "chopsticks, skis, potato chips, onion rings, garlic, ginger, cement, lightning, herb".split(", "))

# names that cover others ("bird": a parrot is one) and names of overlapping things ("sheep", "lamb"): "Is there
# a bird?" of a parrot is not "No.", so `may_deny` keeps them apart
GENERIC = frozenset("bird, fish, flower, tree, plant, dinosaur, ball, car, truck, boat, ship, hat, shoe, toy, "
                    "cake, candy, bag, box, glass, cup, light bulb, lamp, drum, rocket, house, tower, building, "
                    "planet, star, leaf, dragon, bug, dog, cat, pepper, squash, meat".split(", "))
_RELATED = [set(group.split(", ")) for group in (
    "sheep, lamb, ram", "chicken, chick, rooster", "cow, bull, buffalo, bison, yak", "deer, reindeer, moose",
    "pig, boar", "mouse, rat, hamster", "frog, toad", "turtle, tortoise", "bee, wasp, hornet, fly",
    "horse, donkey, zebra", "gorilla, chimpanzee, orangutan, monkey", "lion, tiger, leopard, cheetah, cat",
    "dog, wolf, fox", "seal, sea lion", "whale, orca, dolphin", "crawfish, lobster, shrimp, crab",
    "duck, goose, swan", "eagle, vulture", "crow, blackbird", "dove, pigeon", "orange, tangerine",
    "lemon, lime", "melon, watermelon", "pumpkin, squash", "potato, sweet potato, yam", "bread, baguette",
    "cake, cupcake, muffin, pie", "cookie, biscuit", "ice cream, candy", "juice, lemonade",
    "train, locomotive, tram, subway", "bus, van", "car, taxi, police car, race car, jeep",
    "truck, fire truck, dump truck, tow truck, garbage truck, pickup truck, cement mixer",
    "boat, ship, sailboat, canoe, submarine", "airplane, helicopter", "bicycle, tricycle, motorcycle, scooter",
    "rose, flower, tulip, daffodil, sunflower, iris, daisy, lily, hibiscus, magnolia, marigold, lotus",
    "tree, palm tree, christmas tree, pine tree, oak, birch", "clover, shamrock", "toadstool, mushroom",
    "hat, cap, baseball cap, top hat, fedora, sombrero, helmet", "shirt, t-shirt", "pants, jeans",
    "shoe, boot, sandal, high heel", "glove, gloves", "sock, socks", "glasses, sunglasses", "handbag, purse, bag",
    "ball, soccer ball, basketball, baseball, football, volleyball, tennis ball, rugby ball, golf ball, "
    "bowling ball", "pen, pencil, crayon", "clock, watch, alarm clock, stopwatch", "lock, padlock",
    "couch, sofa, chair", "lamp, light bulb, desk lamp, lantern", "cup, mug, glass", "pot, pan", "knife, sword",
    "telephone, mobile phone", "computer, laptop", "camera, video camera, film camera", "radio, speaker",
    "drum, cymbal", "trumpet, trombone, tuba, french horn", "guitar, violin, cello, harp, banjo",
    "house, cottage, hut, castle, tower, church, temple", "tent, igloo", "sun, star", "moon, planet, earth",
    "record, cd", "box, gift, toolbox", "trash can, recycling box, compost bin", "spade, shovel",
    "doll, teddy bear, toy", "tombstone, rock")]


def may_deny(absent: str, present: str) -> bool:
    """Whether "Is there {absent}?" is surely "No." for a picture of `present`: they are not the same or related
    things, neither covers the other, and among people (whose names overlap: a man firefighter) only names of other
    categories are denied."""
    if absent == present:
        return False
    same_category = CATEGORY[absent] == CATEGORY[present]
    if same_category and (CATEGORY[present] == "person" or absent in GENERIC or present in GENERIC):
        return False
    return not any(absent in group and present in group for group in _RELATED)


# English plurals that do not add "s" / "es"
_IRREGULAR = {
    "man": "men", "woman": "women", "child": "children", "person": "people", "mouse": "mice", "sheep": "sheep",
    "fish": "fish", "deer": "deer", "moose": "moose", "bison": "bison", "buffalo": "buffaloes", "goose": "geese",
    "tooth": "teeth", "foot": "feet", "knife": "knives", "leaf": "leaves", "wolf": "wolves", "shelf": "shelves",
    "yak": "yaks", "gnu": "gnus", "potato": "potatoes", "tomato": "tomatoes", "mango": "mangoes",
    "volcano": "volcanoes", "hero": "heroes", "police officer": "police officers", "santa claus": "santa clauses",
    "squid": "squid", "octopus": "octopuses", "cactus": "cacti", "dice": "dice", "reindeer": "reindeer",
    "shrimp": "shrimp", "crawfish": "crawfish", "chess piece": "chess pieces", "hot air balloon": "hot air balloons",
    "tape measure": "tape measures", "bow and arrow": "bows and arrows",
}

CATEGORY = {name: category for category, names in _NAMES.items() for name in names.split(", ")}
NAMES = frozenset(CATEGORY)
_LONGEST = max(len(name.split()) for name in list(NAMES) + list(SYNONYMS))


def _check_vocabulary() -> None:
    # a synonym must lead to a name of the vocabulary and a name have one category: a slip here would silently
    # drop or mislabel images
    listed = [name for names in _NAMES.values() for name in names.split(", ")]
    twice = sorted({name for name in listed if listed.count(name) > 1})
    missing = sorted({target for target in SYNONYMS.values() if target not in NAMES} | (UNCOUNTED - NAMES))
    if twice or missing:
        raise ValueError(f"vision label space: names listed twice: {', '.join(twice) or 'none'}; "
                         f"not canonical names: {', '.join(missing) or 'none'}")


_check_vocabulary()


def words(text: str) -> list[str]:
    """Lower-case words of a file name or caption: "Dog_on_leash-02" -> ["dog", "on", "leash"]. Apostrophes
    and hyphens inside a word stay ("man's", "t-shirt")."""
    text = text.lower().replace("’", "'")
    return re.findall(r"[a-z]+(?:['-][a-z]+)*", text)


def name_in(text: str, skip: frozenset[str] = frozenset()) -> str | None:
    """The canonical name of the first thing `text` names, or None: the longest vocabulary phrase at the earliest
    word, an "s" plural taken as its singular, a synonym as its canonical name. Words in `skip` (authors'
    names in file names) are passed over."""
    tokens = [w for w in words(text) if w not in skip]
    for start in range(len(tokens)):
        for length in range(min(_LONGEST, len(tokens) - start), 0, -1):
            found = canonical(" ".join(tokens[start:start + length]))
            if found is not None:
                return found
    return None


def canonical(phrase: str) -> str | None:
    """"kittens" -> "cat", "dog" -> "dog", "chair" -> "chair", "boating" -> None."""
    phrase = phrase.lower().strip()
    for form in (phrase, *_singulars(phrase)):
        if form in NAMES:
            return form
        if form in SYNONYMS:
            return SYNONYMS[form]
        if "-" in form and form.replace("-", " ") in SYNONYMS:
            return SYNONYMS[form.replace("-", " ")]
    return None


def _singulars(phrase: str) -> list[str]:
    if phrase.endswith("ies"):
        return [phrase[:-3] + "y"]
    if phrase.endswith(("ses", "xes", "zes", "ches", "shes", "oes")):
        return [phrase[:-2]]
    if phrase.endswith("s") and not phrase.endswith(("ss", "us")):
        return [phrase[:-1]]
    return []


def plural(name: str) -> str:
    """"dog" -> "dogs", "bus" -> "buses", "man" -> "men", "fire truck" -> "fire trucks"."""
    if name in UNCOUNTED:
        return name
    if name in _IRREGULAR:
        return _IRREGULAR[name]
    head, _, last = name.rpartition(" ")
    prefix = head + " " if head else ""
    if last in _IRREGULAR:
        return prefix + _IRREGULAR[last]
    if last.endswith(("s", "x", "z", "ch", "sh")):
        return prefix + last + "es"
    if last.endswith("y") and last[-2:-1] not in "aeiou":
        return prefix + last[:-1] + "ies"
    return prefix + last + "s"


def a(name: str) -> str:
    """The name with its indefinite article: "a dog", "an elephant", "an hourglass", "grapes", "a unicorn"."""
    if name in UNCOUNTED - _GROUPS:
        return name
    vowel_sound = name[0] in "aeiou" and not name.startswith(("uni", "use", "euro", "one"))
    return ("an " if vowel_sound or name.startswith("hour") else "a ") + name


def counted(n: int, name: str) -> str:
    """"one dog", "three dogs" (1 to 10)."""
    numbers = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
    if not 1 <= n <= 10:
        raise ValueError(f"can only say counts from 1 to 10, got {n}")
    return f"{numbers[n]} {name if n == 1 else plural(name)}"


def sentence(text: str) -> str:
    """"a dog" -> "A dog."."""
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
